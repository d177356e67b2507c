"""What the scanner and the server share: the results directory's layout, the scanner's heartbeat,
and the detail socket's protocol. Standard library only: the server imports it and nothing else of
the agent."""
