"""The app's dialogs: open a link, settings, history."""
