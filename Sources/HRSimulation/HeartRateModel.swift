enum HRSimulationPlaceholder {}
