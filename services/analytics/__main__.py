from services.analytics.main import create
from services.analytics.settings import AnalyticsSettings
from shared.run import serve

settings = AnalyticsSettings()
serve(create(settings), settings)
