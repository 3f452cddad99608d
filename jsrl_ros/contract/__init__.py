"""The topic contract (docs/topics.md): topic names, QoS, step stamps and the named-vector conversions."""
