"""The operator console (issue 14): server-rendered pages under /ui/, served by `tally serve`.

Views gather what the API's own service functions return and hand it to Jinja2 templates (autoescape on);
no billing rule lives here. docs/console.md describes the pages and the security model.
"""
