"""What every Vafa service shares: event contracts, topics, config, the reliable consumer and outbox."""
