"""The preset algorithms the chart installs as ClusterAlgorithms (catalogue: modelyard/algorithms/)."""
