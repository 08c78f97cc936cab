"""LiveQA's benchmark suite (issue 6): a load generator, floors measured in the same run, scenarios S1–S8.

Run `python -m bench.run --help`; bench/README.md says what each scenario measures."""
