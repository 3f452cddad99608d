"""Episodes as MCAP bags: assembling a step stream into episodes, writing and reading bags, exporting to Minari."""
