using System.Diagnostics.Metrics;

namespace Switchboard.Sessions;

/// <summary>
/// Switchboard's instruments (meter <c>Switchboard</c>), exported by whatever listens:
/// OpenTelemetry's Prometheus exporter in the server.
/// </summary>
internal sealed class NodeMetrics : IDisposable
{
    public const string MeterName = "Switchboard";

    private readonly Meter _meter;
    private readonly Counter<long> _recoveries;

    public NodeMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(MeterName);
        _recoveries = _meter.CreateCounter<long>("switchboard.recoveries", description: "Subscription recoveries by outcome");
    }

    public void Observe(Node node)
    {
        _meter.CreateObservableGauge("switchboard.connections", () => node.Hub.ClientCount, description: "Connected clients");
        _meter.CreateObservableGauge("switchboard.subscriptions", () => node.Hub.SubscriptionCount, description: "Channel subscriptions on this node");
    }

    public void Recovery(bool recovered)
        => _recoveries.Add(1, new KeyValuePair<string, object?>("outcome", recovered ? "recovered" : "not_recovered"));

    public void Dispose() => _meter.Dispose();
}
