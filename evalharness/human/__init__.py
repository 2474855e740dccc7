"""Human evaluation: segments of a run handed to annotators (ESA campaigns, :mod:`evalharness.human.esa`) and
their MQM annotations read back into the run as a metric (:mod:`evalharness.human.mqm`)."""
