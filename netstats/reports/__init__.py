"""Reports: a definition (jobs, destinations, range, zone, format) written as XLSX or CSV,
from the read side only (``netstats.queries``), for the reports page, the API and the CLI."""
