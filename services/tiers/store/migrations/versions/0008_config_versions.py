"""stamps on the configuration tables a batch reads (the programs told of, their ladders), so a
consumer keeps them in memory until one changes

Revision ID: 0008
Revises: 0007
"""

from shared.store.settled import create_config_versions_v1

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_config_versions_v1("loyalty_programs", "ladders")


def downgrade() -> None:
    raise NotImplementedError("forward only")
