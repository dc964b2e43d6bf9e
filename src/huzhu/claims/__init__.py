"""Claims: the claim state machine (submitted → investigating → reviewing → approved | rejected),
evidence documents and their one store, third-party investigation reports and the rule-checked
evaluation a reviewer decides on (the decision itself is ``casework``'s)."""
