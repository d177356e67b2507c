"""`nsinspect agent`'s scanner: `agent` wires it up and runs it: the scan loop (`scan_loop`)
publishes each snapshot to the serving state (`serving`), which writes it to the results
directory (`results_writer`) that the unprivileged server (agent/server) reads, and answers pods'
details on a unix socket (`detail_server`); `kube_intent` watches the pods' specs."""
