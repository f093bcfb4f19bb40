# TFLint for deploy/terraform/{aws,azure}: only the Terraform language rules bundled in the tflint binary (no plugin
# is downloaded, so it runs offline; the aws/azurerm rulesets would need GitHub). Every rule of the preset is on.
config {
  call_module_type = "none"
  force            = false
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
