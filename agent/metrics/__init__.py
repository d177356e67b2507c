"""Prometheus metrics: a snapshot's families, rendered once per scan, and the agent's health.

The export layer only reads a snapshot; it never reaches into discovery, and a scrape never scans.
`pod_families` and `node_families` are tables of small generators, one per family; `renderer`
writes them in the text format (`text_format`) and keeps each pod's lines for the next scan;
`health` holds the agent's own series (prometheus-client).
"""
