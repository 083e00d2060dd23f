"""The ETP engine: sections, flow, validation, drafting and export. Imports no platform library."""
