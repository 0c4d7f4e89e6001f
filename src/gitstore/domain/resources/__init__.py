"""Resources of the control plane (Kubernetes-style objects fed from Git, with a status
subresource written by controllers): the model (``model``), the pure rules of every change
(``rules``), status conditions (``conditions``), label selectors (``selector``), the status
schema of a kind (``status_schema``) and what a watch needs (``watch``). See docs/resources.md.
"""
