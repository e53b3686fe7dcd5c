# Reference tables for tests/test_mclust.py, computed with R's mclust (6.0.0 when made).
#
# Run from the repository root:  Rscript tests/data/mclust/make_tables.R
# The test suite reads the CSV files written here; it never needs R.
#
# For every shipped data set: mclust's default sweep (mclustBIC, models as mclust chooses them
# for the dimension, G = 1..9, default emControl and hierarchical initialisation), written as
#   <name>_bic.csv   model, K, bic (scikit-learn's sign: -2 log L + p log N, lower is better),
#                    log_likelihood, n_parameters, icl (mclust's hard-assignment ICL, same
#                    sign); NA where mclust's fit failed (singular covariance)
#   <name>_init.csv  the initial partition mclust's EM started from for each G: column
#                    K<g> holds the class (1..g) of every row, in the CSV's row order
#                    (hclass of hc(VVV, use = "SVD") for d > 1, mclust:::qclass for d = 1)
# and summary.csv: the model and K mclust selects by BIC, with its BIC.
suppressMessages(library(mclust))
stopifnot(packageVersion("mclust") >= "6.0.0")
out_dir <- "tests/data/mclust"
data_dir <- "bayesgmm/datasets"
sets <- c("faithful", "iris", "acidity", "enzyme", "galaxy")
G <- 1:9
summary_rows <- list()
for (name in sets) {
  X <- read.csv(file.path(data_dir, paste0(name, ".csv")))
  X <- as.matrix(X[sapply(X, is.numeric)])
  n <- nrow(X); d <- ncol(X)
  data <- if (d == 1) drop(X) else X
  bic <- mclustBIC(data, G = G, verbose = FALSE)
  icl <- mclustICL(data, G = G, verbose = FALSE)
  models <- colnames(bic)
  rows <- list()
  for (m in models) for (g in G) {
    b <- bic[as.character(g), m]
    p <- nMclustParams(m, d, g)
    ll <- if (is.na(b)) NA else (b + p * log(n)) / 2
    i <- icl[as.character(g), m]
    rows[[length(rows) + 1]] <- data.frame(model = m, K = g, bic = -b, log_likelihood = ll,
                                           n_parameters = p, icl = -i)
  }
  write.csv(do.call(rbind, rows), file.path(out_dir, paste0(name, "_bic.csv")),
            row.names = FALSE, na = "NA")
  if (d > 1) {
    cl <- hclass(hc(data, modelName = mclust.options("hcModelName"),
                    use = mclust.options("hcUse")), G)
  } else {
    cl <- sapply(G, function(g) if (g == 1) rep(1L, n) else mclust:::qclass(data, g))
  }
  colnames(cl) <- paste0("K", G)
  write.csv(cl, file.path(out_dir, paste0(name, "_init.csv")), row.names = FALSE)
  best <- summary(bic, data)
  summary_rows[[length(summary_rows) + 1]] <- data.frame(
    dataset = name, model = best$modelName, K = best$G, bic = -best$bic,
    mclust_version = as.character(packageVersion("mclust")))
}
write.csv(do.call(rbind, summary_rows), file.path(out_dir, "summary.csv"), row.names = FALSE)
