"""Inbound call flows, IVR and the ACD service (issue 5); see docs/flows.md.

``engine.FlowEngine`` is the ``InboundHandler`` call control runs for every inbound call;
``acd.AcdService`` owns the node's routing engine and carries out what it decides;
``service.FlowService`` keeps flow versions and rolls them back.
"""
