using Microsoft.Extensions.Diagnostics.HealthChecks;
using Switchboard.Sessions;

namespace Switchboard.Server.Hosting;

/// <summary>
/// Ready to take connections: not draining and under the node's connection cap. An engine that
/// does not answer (Redis away) makes the node <em>degraded</em>, which still answers 200: every
/// node shares the engine, so a load balancer that pulled them all out would serve no one, while
/// a node without Redis still connects clients, serves what it can and recovers them afterwards.
/// </summary>
internal sealed class ReadinessCheck(Node node) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (node.RefuseReason() is { } reason)
        {
            return HealthCheckResult.Unhealthy(reason);
        }
        try
        {
            // A cheap engine round trip: the position of a stream nobody uses.
            await node.Broker.HistoryAsync("$healthz", new Engine.HistoryQuery { Limit = 0, MetaTtl = TimeSpan.FromMinutes(1) }, cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // any engine failure means degraded
        catch (Exception e)
#pragma warning restore CA1031
        {
            return HealthCheckResult.Degraded("engine unreachable", e);
        }
        return HealthCheckResult.Healthy();
    }
}
