"""Real-browser widget tests (JupyterLab / Notebook 7 in headless Chromium)."""
