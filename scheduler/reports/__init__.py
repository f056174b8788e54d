"""What relais tells people about the queue: status, the plan, history, the calendar."""
