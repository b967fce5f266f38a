"""elixir.test: the portal's unit and acceptance tests, with the services they need.

command.py: the `mix test` command lines and their environment (pure);
browser.py: chromedriver and Chrome, found and their major versions compared;
run.py: the task: Postgres, Vault, the browser check, then mix (N partitions at once).
"""
