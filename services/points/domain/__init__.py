"""The points domain: earning rules and a member's lots. Pure: no I/O."""
