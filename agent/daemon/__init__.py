"""`nsinspect agent`: the node daemon. `agent` wires it up and runs it: the scan loop
(`scan_loop`) publishes each snapshot to the serving state (`serving`), which the HTTP API
(`http_api` on `wsgi_server`) reads; `kube_intent` watches the pods' specs."""
