/*
 * cmd_serve.c - `tessera serve`: runs the web application and HTTP API
 * (server/, docs/cli/serve.md) until SIGTERM or SIGINT.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"
#include "server.h"

enum { OPT_LISTEN = 1, OPT_DB, OPT_MAX_UPLOAD, OPT_THREADS, OPT_WORKERS, OPT_CERT, OPT_KEY, OPT_DATA, OPT_OFFERS, OPT_POLICY, OPT_REWARD };

int tsr_cmd_serve(int argc, char **argv) {
  static const struct option longopts[] = {{"listen", required_argument, NULL, OPT_LISTEN},
                                           {"db", required_argument, NULL, OPT_DB},
                                           {"data-dir", required_argument, NULL, OPT_DATA},
                                           {"max-upload", required_argument, NULL, OPT_MAX_UPLOAD},
                                           {"threads", required_argument, NULL, OPT_THREADS},
                                           {"workers", required_argument, NULL, OPT_WORKERS},
                                           {"tls-cert", required_argument, NULL, OPT_CERT},
                                           {"tls-key", required_argument, NULL, OPT_KEY},
                                           {"offers", required_argument, NULL, OPT_OFFERS},
                                           {"policy", required_argument, NULL, OPT_POLICY},
                                           {"reward", required_argument, NULL, OPT_REWARD},
                                           {NULL, 0, NULL, 0}};
  tsr_server_config cfg;
  tsr_server_config_init(&cfg);
  int c;
  long l;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_LISTEN: cfg.listen = optarg; break;
      case OPT_DB: cfg.db = optarg; break;
      case OPT_DATA: cfg.data_dir = optarg; break;
      case OPT_MAX_UPLOAD:
        if (cli_parse_long("serve", "--max-upload", optarg, 1, 1L << 40, &l)) return TSR_EXIT_USAGE;
        cfg.max_upload = l;
        break;
      case OPT_THREADS:
        if (cli_parse_long("serve", "--threads", optarg, 1, 256, &l)) return TSR_EXIT_USAGE;
        cfg.threads = (unsigned)l;
        break;
      case OPT_WORKERS:
        if (cli_parse_long("serve", "--workers", optarg, 1, 64, &l)) return TSR_EXIT_USAGE;
        cfg.workers = (unsigned)l;
        break;
      case OPT_CERT: cfg.tls_cert = optarg; break;
      case OPT_KEY: cfg.tls_key = optarg; break;
      case OPT_OFFERS: cfg.offers = optarg; break;
      case OPT_POLICY: cfg.policy = optarg; break;
      case OPT_REWARD:
        if (strcmp(optarg, "binary") && strcmp(optarg, "amount"))
          return cli_usage("serve", "--reward: expected binary or amount, got '%s'", optarg);
        cfg.reward_amount = !strcmp(optarg, "amount");
        break;
      default: return cli_usage("serve", "unknown option");
    }
  }
  if (optind < argc) return cli_usage("serve", "unexpected argument '%s'", argv[optind]);
  if (!cfg.tls_cert != !cfg.tls_key) return cli_usage("serve", "--tls-cert and --tls-key go together");
  char msg[1024] = "";
  int rc = tsr_server_run(&cfg, msg, sizeof msg);
  if (rc) cli_msg("%s", msg);
  return rc;
}
