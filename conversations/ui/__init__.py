"""The agent inbox: the web page agents work in (a client of the REST API and /ws/agent/)."""
