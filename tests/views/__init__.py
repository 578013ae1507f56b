"""View tests for the shell, Enterprise applications, Provisioning and Users and groups pages."""
