"""Planning through a world model: the CEM solver, planners and the evaluation protocols."""
