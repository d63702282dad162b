"""Modal screens of the Tierplay app: help, confirmation and path prompts."""
