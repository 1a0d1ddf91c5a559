/* The template plugin's two registrations, one per source file. Copy the one you need. */
#ifndef ACME_PLUGIN_H
#define ACME_PLUGIN_H

#include <milo/plugin.h>

/* acme_scorer.c: transporter "acme.scorer", native .acmescore files <-> acme.Scorer documents */
extern const milo_transporter acme_scorer_transporter;
/* acme_props_format.c: format "acme.props", flat documents <-> "key=type:value" text */
extern const milo_format acme_props_format;

#endif
