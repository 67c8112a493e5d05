"""Assessment schemes (versioned KPIs, weights, tiers), periods and frozen staff and department
scorecards."""
