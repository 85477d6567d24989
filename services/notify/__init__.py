"""Notify: templated messages over real channels. Not built yet: issue 6."""
