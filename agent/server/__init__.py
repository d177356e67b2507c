"""The agent's unprivileged server: it serves the scanner's results over HTTP (waitress) as uid
65534 with no capabilities, and checks who asks with the cluster's TokenReview and
SubjectAccessReview. It imports the standard library, waitress and `agent/exchange` only, so it
stays small."""
