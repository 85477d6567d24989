from services.notify.main import create
from services.notify.settings import NotifySettings
from shared.run import serve

settings = NotifySettings()
serve(create(settings), settings)
