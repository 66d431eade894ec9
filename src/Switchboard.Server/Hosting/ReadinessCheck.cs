using Microsoft.Extensions.Diagnostics.HealthChecks;
using Switchboard.Sessions;

namespace Switchboard.Server.Hosting;

/// <summary>
/// Ready to take connections: not draining, under the node's connection cap, and the engine
/// answers (the memory engine always does; the Redis engine will ping).
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
#pragma warning disable CA1031 // any engine failure means not ready
        catch (Exception e)
#pragma warning restore CA1031
        {
            return HealthCheckResult.Unhealthy("engine unreachable", e);
        }
        return HealthCheckResult.Healthy();
    }
}
