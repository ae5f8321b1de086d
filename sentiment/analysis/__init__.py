"""Understanding scored comments: evaluation metrics, explanations, the HTML report and its statistics and plots."""
