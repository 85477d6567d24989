from services.console.main import create
from services.console.settings import ConsoleSettings
from shared.run import serve

settings = ConsoleSettings()
serve(create(settings), settings)
