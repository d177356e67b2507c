"""Inside a pod's shared namespaces: interfaces, routes and veth peers, listening sockets and
their owners, the UTS names, IPC object counts. Collected per pod on request
(`collect.pod_details`), never by the periodic scan; depends on the model alone."""
