"""The member portal: a member signs in with a one-time code and sees their own program (balance, tier,
history, rewards, consent), calling the other services' APIs with their own member token."""

from services.portal.main import create
from services.portal.settings import PortalSettings
from shared.run import serve

settings = PortalSettings()
serve(create(settings), settings)
