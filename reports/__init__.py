"""Monthly report (月度通报) of the centre: pure queries and rendering, no web code.

`build.build_report` gathers the figures (aggregated in the database, see queries.py), `html`,
`xlsx` and `charts` render them; `hotline report monthly` (cli.py) writes all three.
"""
