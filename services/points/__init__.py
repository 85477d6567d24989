"""Points: earning rules, the append-only ledger and balances (issue 4 grows it)."""
