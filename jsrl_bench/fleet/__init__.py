"""The fleet's measurements across network namespaces (issue 14): rediscovery after outages and restarts."""
