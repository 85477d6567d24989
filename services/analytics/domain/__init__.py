"""What the program's figures mean: facts taken from events, and the KPIs computed from them (pure)."""
