from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "relance.events"
    label = "events"
    verbose_name = "Domain events"
