"""The read-only web console: server-rendered pages over the same views the CLI computes
(`modelyard.views`), each with a stable URL and the same data as JSON (`Accept:
application/json`). `modelyard local console` serves local mode's state; `modelyard console`
a cluster's, through the kubeconfig or the in-cluster ServiceAccount (get, list and watch only).

Layout: `reading` (objects per request, and what a page says when the cluster cannot be read),
`pages/` (one module per page family: pure view-model builders plus their routes), `app`
(the Flask application: content negotiation, errors, security headers), `serve` (waitress),
`command` (the CLI's `console` commands)."""
