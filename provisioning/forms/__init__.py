"""Django forms, one module per page area (applications, settings_page, assignments, …)."""
