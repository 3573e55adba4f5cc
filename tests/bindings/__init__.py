"""Binding-neutral tests of the resource side (issue 5 "Bindings"): the shared world and
scenarios in :mod:`tests.bindings.harness` and :mod:`tests.bindings.scenarios`, and one test
module per binding that implements :class:`tests.bindings.harness.ResourceBindingAdapter`."""
