"""stamps on the configuration tables a batch reads (registry, rules, challenges, program ends), so a
consumer keeps them in memory until one changes

Revision ID: 0020
Revises: 0019
"""

from shared.store.settled import create_config_versions_v1

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_config_versions_v1("loyalty_programs", "rule_sets", "challenges", "program_ends")


def downgrade() -> None:
    raise NotImplementedError("forward only")
