//! Who may do what: the access matrix of issue 4.
