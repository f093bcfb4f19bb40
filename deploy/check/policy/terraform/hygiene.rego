package terraform

import rego.v1

# Attribute names that hold credentials; their value must come from a resource, variable or function, never a literal.
secret_name := `(?i)(password|passwd|secret|token|access_key|secret_key|private_key|connection_string|api_key|client_secret|sas)$`

# No literal credential anywhere (resources, providers, locals, data sources, modules).
deny contains msg if {
	some file in input
	some kind in {"resource", "provider", "locals", "data", "module"}
	walk(file.contents[kind], [path, value])
	is_string(value)
	regex.match(secret_name, sprintf("%v", [path[count(path) - 1]]))
	literal(value)
	msg := sprintf("%s: %s %v holds a hard-coded credential", [file.path, kind, path])
}

# No variable holds a credential as its default.
deny contains msg if {
	some file in input
	some name, blocks in file.contents.variable
	regex.match(secret_name, name)
	some config in blocks
	is_string(config["default"])
	config["default"] != ""
	msg := sprintf("%s: variable %s has a default credential", [file.path, name])
}

# Nothing shaped like an AWS access key id or a private key, whatever the attribute's name.
deny contains msg if {
	some file in input
	walk(file.contents, [path, value])
	is_string(value)
	regex.match(`(AKIA|ASIA)[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|AccountKey=[A-Za-z0-9+/=]{40,}`, value)
	msg := sprintf("%s: %v looks like a credential", [file.path, path])
}

# A literal: a non-empty string with no interpolation (a reference or a function call is "${...}").
literal(value) if {
	value != ""
	not contains(value, "${")
}

# Every variable has a description (tflint's terraform_documented_variables says so too; this keeps it in policy).
deny contains msg if {
	some file in input
	some name, blocks in file.contents.variable
	some config in blocks
	not described(config)
	msg := sprintf("%s: variable %s has no description", [file.path, name])
}

described(config) if {
	is_string(config.description)
	trim_space(config.description) != ""
}
